"""What the test modules share: set-up through the real doors, the documents they send,
and checks of what came back. A test module imports helpers from here, never from another
test module.
"""
