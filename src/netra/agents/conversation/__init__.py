"""A thread's memory and follow-ups: what earlier turns said, and what a new message refers to."""
