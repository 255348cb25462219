"""What the SMS vendors call: her replies to SMS (``replies.py``, issue 19 item 6)."""
