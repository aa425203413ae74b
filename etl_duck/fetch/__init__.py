"""Fetch round files from the game server over SFTP (asyncssh).

``sftp`` (the connection: key authentication, host keys, errors), ``remote`` (the remote
folder: safe names, listing, lstat), ``download`` (one file, verified), ``poller``
(:class:`Fetcher`: poll, stability rule, hand-over to the ingest, watch loop). The fetch
never writes ``raw/``: the ingest stores what it is given through the raw store.
"""
