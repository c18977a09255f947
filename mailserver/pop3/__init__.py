"""POP3 (RFC 1939, 2449, 5034, 2595): a session state machine with one handler per command.

``listener.start_listener`` accepts connections; ``session.Pop3Session`` reads
bounded lines, ``parser`` turns them into command objects, and the table in
``commands`` maps each verb to its handler and the states it is valid in.
"""
