from django.urls import path

from knowledge import views, views_manage

app_name = "knowledge"

urlpatterns = [
    path("", views.kb_home, name="home"),
    path("search/", views.kb_search, name="search"),
    path("suggest/", views.suggest, name="suggest"),
    path("articles/", views.other_articles, name="other_articles"),
    path("articles/<slug:slug>/", views.article_detail, name="article"),
    path("articles/<slug:slug>/vote/", views.article_vote, name="vote"),
    path("articles/<slug:slug>/viewed/", views.article_viewed, name="viewed"),
    path("manage/", views_manage.article_list, name="manage_list"),
    path("manage/new/", views_manage.article_edit, name="manage_new"),
    path("manage/preview/", views_manage.article_preview, name="manage_preview"),
    path("manage/picker/", views_manage.article_picker, name="manage_picker"),
    path("manage/<slug:slug>/edit/", views_manage.article_edit, name="manage_edit"),
    path(
        "manage/<slug:slug>/revisions/<int:revision_id>/restore/",
        views_manage.revision_restore,
        name="manage_restore",
    ),
    path("manage/<slug:slug>/<str:action>/", views_manage.article_action, name="manage_action"),
    path("<slug:slug>/", views.category_detail, name="category"),
]
