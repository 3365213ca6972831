"""Email marketing: campaigns to segments and lists, their recipients and sending, unsubscribes
and bounces, and the log of every message sent to a contact."""
