"""The therapist's companion: a web app served by the engine process (docs/companion.md).

``Companion`` (server.py) serves it; ``TokenStore`` (auth.py) pairs devices; ``LiveHub``
(live.py) broadcasts status and the patient's view; ``check_command`` (commands.py) guards
every command; ``LiveView`` (snapshot.py, Panda3D) encodes the view off the frame thread.
"""
from vrgmi.companion.auth import AuthError, TokenStore
from vrgmi.companion.commands import CommandRejected, RateLimiter, check_command
from vrgmi.companion.server import Companion, CompanionError, CompanionOptions

__all__ = ["AuthError", "Companion", "CompanionError", "CompanionOptions", "CommandRejected",
           "RateLimiter", "TokenStore", "check_command"]
