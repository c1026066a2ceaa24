"""Personal accounts for the people who run the service: coordinators (admin / coordinator / readonly),
shops and drivers; sign-in with a second factor for staff, invitations, roles and the audit page."""
