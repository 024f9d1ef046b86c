"""The inbound pipeline: a stored message, one member at a time under a lock, handed to the
feature that answers it (engine), the routers and the context handlers see (router), and the
command words of every language (commands)."""
