from django.urls import path

from knowledge import views

app_name = "knowledge"

urlpatterns = [
    path("", views.kb_home, name="home"),
    path("search/", views.kb_search, name="search"),
    path("suggest/", views.suggest, name="suggest"),
    path("articles/<slug:slug>/", views.article_detail, name="article"),
    path("articles/<slug:slug>/vote/", views.article_vote, name="vote"),
    path("articles/<slug:slug>/viewed/", views.article_viewed, name="viewed"),
    path("<slug:slug>/", views.category_detail, name="category"),
]
