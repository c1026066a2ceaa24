"""The ground floor: configuration, the database, the clock, errors, audit and input checks.

Nothing here imports a domain package, a channel or the app factory.
"""
