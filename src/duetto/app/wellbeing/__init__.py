"""Wellbeing and family: teen accounts and the controls only a linked parent can loosen (`teens`), the link
between a parent and a teen (`family`), what each user sets against bullying (`safety`) and the check-ins
that ask how Duetto makes people feel (`checkins`)."""
