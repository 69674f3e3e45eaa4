"""Small wording helpers shared by the terminal summary, the HTML page and the figures."""


def studies(n: int) -> str:
    return f"{n} study" if n == 1 else f"{n} studies"
