"""A small text helper shipped as a Lambda layer: on Lambda, and here, it sits in /opt/python."""


def tidy(name):
    """'  ada lovelace ' -> 'Ada Lovelace'; an empty name -> 'Stranger'."""
    return name.strip().title() or "Stranger"
