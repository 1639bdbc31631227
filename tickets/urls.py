from django.urls import path, re_path

from tickets.views import desk, portal

app_name = "tickets"

# Ticket numbers are accepted as 1042 or T-1042.
NUMBER = r"(?:[Tt]-)?(?P<number>[0-9]{1,18})"

urlpatterns = [
    path("portal/tickets/", portal.ticket_list, name="portal_list"),
    path("portal/tickets/new/", portal.ticket_submit, name="portal_submit"),
    path("portal/tickets/new/<slug:slug>/", portal.ticket_submit, name="portal_submit_form"),
    path("portal/tickets/submitted/", portal.ticket_submitted, name="portal_submitted"),
    re_path(rf"^portal/tickets/{NUMBER}/$", portal.ticket_detail, name="portal_detail"),
    re_path(rf"^portal/tickets/{NUMBER}/reply/$", portal.ticket_reply, name="portal_reply"),
    re_path(rf"^portal/tickets/{NUMBER}/status/$", portal.ticket_set_status, name="portal_status"),
    path("portal/attachments/<int:pk>/", portal.attachment_download, name="attachment_download"),
    path("desk/", desk.queue, name="desk_queue"),
    path("desk/bulk/", desk.bulk, name="desk_bulk"),
    path("desk/views/", desk.saved_view_create, name="desk_view_create"),
    path("desk/views/<int:pk>/delete/", desk.saved_view_delete, name="desk_view_delete"),
    re_path(rf"^desk/tickets/{NUMBER}/$", desk.workspace, name="desk_ticket"),
    re_path(rf"^desk/tickets/{NUMBER}/reply/$", desk.workspace_reply, name="desk_reply"),
    re_path(rf"^desk/tickets/{NUMBER}/update/$", desk.workspace_update, name="desk_update"),
    re_path(rf"^desk/tickets/{NUMBER}/seen/$", desk.workspace_seen, name="desk_seen"),
    re_path(rf"^desk/tickets/{NUMBER}/merge/$", desk.workspace_merge, name="desk_merge"),
]
