"""The use cases that cross domains, each written once: request a video, remove content, sign up, delete an
account, enroll a person."""
