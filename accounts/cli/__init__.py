"""Django's own account commands (createsuperuser, changepassword) replaced by audited ones. An app of
its own, listed before django.contrib.auth so that its commands win, without moving the accounts app
(whose admin must load after auth's)."""
