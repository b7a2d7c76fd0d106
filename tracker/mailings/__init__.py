"""What organisers send to many people at once: the reminder before an event, a
message to a filtered set of registrations, and the attendance certificate after it."""
