"""What WeChat calls: delivery reports and messages (``callbacks.py``); OAuth and payment
notices later."""
