"""Channel adapters: one protocol in ``base.py``, one module per adapter.

Adapters deliver what they are given and decide nothing: what to send, when and through which
channel is ``carepath.delivery``'s job. ``registry.build_channel`` picks an adapter by name.
"""
