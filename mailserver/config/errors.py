"""The one error a configuration mistake produces."""


class ConfigError(Exception):
    """A configuration problem, worded for the person editing the YAML file.

    The CLI prints it without a traceback: a config typo is not a crash.
    """
