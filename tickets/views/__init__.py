"""Ticket pages: the customer portal (portal.py) and the agent desk (desk.py)."""
