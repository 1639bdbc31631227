from django.urls import path, re_path

from tickets import views

app_name = "tickets"

# Ticket numbers are accepted as 1042 or T-1042.
NUMBER = r"(?:[Tt]-)?(?P<number>[0-9]{1,18})"

urlpatterns = [
    path("tickets/", views.ticket_list, name="portal_list"),
    path("tickets/new/", views.ticket_submit, name="portal_submit"),
    path("tickets/new/<slug:slug>/", views.ticket_submit, name="portal_submit_form"),
    path("tickets/submitted/", views.ticket_submitted, name="portal_submitted"),
    re_path(rf"^tickets/{NUMBER}/$", views.ticket_detail, name="portal_detail"),
    re_path(rf"^tickets/{NUMBER}/reply/$", views.ticket_reply, name="portal_reply"),
    re_path(rf"^tickets/{NUMBER}/status/$", views.ticket_set_status, name="portal_status"),
    path("attachments/<int:pk>/", views.attachment_download, name="attachment_download"),
]
