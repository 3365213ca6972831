"""Scheduled work (`flask --app app crm run-due`): birthday greetings, users' reminders,
retention of old files, and the scheduled campaigns, each done once whatever runs it."""
