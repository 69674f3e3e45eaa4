"""One error type for everything a user can fix; only the CLI's main() turns it into a message."""


class UserError(Exception):
    """A problem the user can act on. The message names the problem and what to do."""

    def __init__(self, message: str, *, hint: str | None = None, exit_code: int = 1) -> None:
        super().__init__(message)
        self.hint = hint
        self.exit_code = exit_code

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  what to do: {self.hint}" if self.hint else base
