"""A small list of passwords and base words that sign-up refuses.

``COMMON_PASSWORDS`` match whole (case-insensitive); ``COMMON_WORDS`` match once leading and
trailing digits and symbols are stripped ("Password2024!" is "password").
"""

from __future__ import annotations

COMMON_WORDS: frozenset[str] = frozenset(
    """
    password passw0rd p@ssword p@ssw0rd qwerty qwertyuiop qwertyuiopas asdfghjkl zxcvbnm
    letmein welcome iloveyou admin administrator monkey dragon football baseball master
    sunshine princess shadow superman batman trustno charlie michael jennifer whatever
    starwars computer internet abc abcdef abcdefgh abcdefghijkl changeme secret
    default login test tester guest root netra hello freedom
    """.split()
)

COMMON_PASSWORDS: frozenset[str] = frozenset(
    [
        *"""
        123456789012 1234567890123 12345678901234 123123123123 111111111111 000000000000
        123412341234 121212121212 987654321098 098765432109 112233445566 147258369147
        password1234 password12345 password123456 passwordpassword qwerty123456
        qwertyuiop123 1q2w3e4r5t6y 1qaz2wsx3edc qazwsxedcrfv zaq12wsxcde3 iloveyou1234
        letmein12345 welcome12345 administrator admin1234567 abc123abc123 abcd1234abcd
        aaaaaaaaaaaa monkeymonkey dragondragon football1234 baseball1234 sunshine1234
        princess1234 superman1234 trustno1trustno1 correcthorsebatterystaple
        """.split(),
        "correct horse battery staple",
    ]
)
