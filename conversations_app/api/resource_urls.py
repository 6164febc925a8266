"""Resource routes: folders, conversations, feedback, notes, attachments, search, export, trash."""

urlpatterns: list = []
