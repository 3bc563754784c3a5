"""Actions: pause, resume and cancel, executed once per firing; delayed resumes."""
