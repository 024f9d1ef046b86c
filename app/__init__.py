"""Entry points and wiring: the ``childpact`` command, the service that assembles the parts,
the web application factory and the terminal chat. Imports every layer; nothing imports it."""
