"""Between the store and the channels: dispatch, delivery policy, rendering of messages."""
