"""Fixed texts the simulated Windows tools print (usage blocks, error messages).

Usage blocks are verbatim from the corpus (Strontic xCyclopedia captures of the
10.0.17763 / 10.0.19041 binaries: quser-en-us-usage, qwinsta-en-us-usage,
logoff-en-us-usage-invalid-param, msg-en-us-usage). Lines are joined with CRLF by the
caller. Texts are English: these tools print their usage in the UI language, and no
localized usage was captured (LAB ASSUMPTION: every locale prints them in English).
"""

from __future__ import annotations

INVALID_PARAMETERS = "Invalid parameter(s)"

QUSER_USAGE = (
    "Display information about users logged on to the system.",
    "",
    "QUERY USER [username | sessionname | sessionid] [/SERVER:servername]",
    "",
    "  username            Identifies the username.",
    "  sessionname         Identifies the session named sessionname.",
    "  sessionid           Identifies the session with ID sessionid.",
    "  /SERVER:servername  The server to be queried (default is current).",
    "",
)

QWINSTA_USAGE = (
    "Display information about Remote Desktop Services sessions.",
    "",
    "QUERY SESSION [sessionname | username | sessionid]",
    "              [/SERVER:servername] [/MODE] [/FLOW] [/CONNECT] [/COUNTER] [/VM]",
    "",
    "  sessionname         Identifies the session named sessionname.",
    "  username            Identifies the session with user username.",
    "  sessionid           Identifies the session with ID sessionid.",
    "  /SERVER:servername  The server to be queried (default is current).",
    "  /MODE               Display current line settings.",
    "  /FLOW               Display current flow control settings.",
    "  /CONNECT            Display current connect settings.",
    "  /COUNTER            Display current Remote Desktop Services counters information.",
    "  /VM                 Display information about sessions within virtual machines.",
    "",
)

LOGOFF_USAGE = (
    "Terminates a session.",
    "",
    "LOGOFF [sessionname | sessionid] [/SERVER:servername] [/V] [/VM]",
    "",
    "  sessionname         The name of the session.",
    "  sessionid           The ID of the session.",
    "  /SERVER:servername  Specifies the Remote Desktop server containing the user",
    "                      session to log off (default is current).",
    "  /V                  Displays information about the actions performed.",
    "  /VM                 Logs off a session on server or within virtual machine. "
    "The unique ID of the session needs to be specified.",
    "",
)

MSG_USAGE = (
    "Send a message to a user.",
    "",
    "MSG {username | sessionname | sessionid | @filename | *}",
    "    [/SERVER:servername] [/TIME:seconds] [/V] [/W] [message]",
    "",
    "  username            Identifies the specified username.",
    "  sessionname         The name of the session.",
    "  sessionid           The ID of the session.",
    "  @filename           Identifies a file containing a list of usernames,",
    "                      sessionnames, and sessionids to send the message to.",
    "  *                   Send message to all sessions on specified server.",
    "  /SERVER:servername  server to contact (default is current).",
    "  /TIME:seconds       Time delay to wait for receiver to acknowledge msg.",
    "  /V                  Display information about actions being performed.",
    "  /W                  Wait for response from user, useful with /V.",
    "  message             Message to send.  If none specified, prompts for it",
    "                      or reads from stdin.",
    "",
)

# Win32 system messages for the error codes the lab produces ("Error [n]:text").
WINDOWS_ERRORS: dict[int, str] = {
    5: "Access is denied.",
    6: "The handle is invalid.",
    31: "A device attached to the system is not functioning.",
    1460: "This operation returned because the timeout period expired.",
    1722: "The RPC server is unavailable.",
    # ERROR_CTX_WINSTATION_NOT_FOUND (winerror.h 7022).
    7022: "The specified session cannot be found.",
}


def describe_error(code: int) -> str:
    """Return the Windows message text for an error code (a generic text if unknown)."""
    return WINDOWS_ERRORS.get(code, f"Unknown error (0x{code:x}).")


# cmd.exe when CreateProcess fails with ERROR_ACCESS_DISABLED_BY_POLICY (1260): AppLocker
# or a software restriction policy forbids the program (Windows' message text for 1260).
BLOCKED_BY_POLICY = (
    "This program is blocked by group policy. For more information, contact your system "
    "administrator."
)


def not_recognized(program: str) -> tuple[str, ...]:
    """cmd.exe's two-line answer for a program it cannot find."""
    return (
        f"'{program}' is not recognized as an internal or external command,",
        "operable program or batch file.",
    )


def powershell_not_recognized(term: str) -> tuple[str, ...]:
    """Windows PowerShell 5.1's error for an unknown command, as its host prints it."""
    return (
        f"{term} : The term '{term}' is not recognized as the name of a cmdlet, function, "
        "script file, or operable program. Check the spelling of the name, or if a path "
        "was included, verify that the path is correct and try again.",
    )
