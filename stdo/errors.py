class InputError(Exception):
    """Bad user input. The message names the input and says what is wrong with it, in one line."""
