"""Messages to residents by SMS (issue 16): what is sent, through which provider, and the outbox that sends it once.

- `messages`: the kinds of message (booking confirmed, rejected, moved, waitlist promotion, session cancelled or
  moved, reminders) and their plain Chinese default texts, with the parameters each takes.
- `providers`: Tencent Cloud SMS through its maintained SDK (`tencentcloud-sdk-python-sms`), and a plain HTTP gateway
  for a county's own SMS platform. Neither ever logs a phone number, a text or a credential.
- `outbox`: the `notifications` table: a message is queued in the transaction that caused it, and sent at most once
  (a send whose outcome is unknown after a crash is reported as such, never repeated), with quiet hours and retries
  with backoff.
"""
