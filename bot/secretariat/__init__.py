"""The secretariat's side: staff accounts, sign-in, tokens and the audit log (accounts), the
inbox of members' questions, the overview figures and the member directory."""
