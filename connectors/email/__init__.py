"""The email destination: alert and digest emails over SMTP (stdlib smtplib), with an aiosmtpd emulator."""
