"""What the contact card shows and writes: the activity feed, notes, interactions, tasks,
appointments and their invitations, connections, files, history, messages, and the emails
and campaigns the contact was sent."""
