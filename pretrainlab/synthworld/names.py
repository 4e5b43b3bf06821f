"""Invented names built from a small syllable inventory, unique within one world.

Each kind of entity has its own shape, so a model can learn what a name denotes from the corpus:
female given names end in an open vowel (``Lusa``), male ones in a rare consonant (``Kiron``,
``Tavix``), cities in a place suffix (``Velmora``), countries in ``-ia``/``-and``... The inventory is
deliberately small, so a 2-4k BPE vocabulary covers the syllables. The shapes make collisions with
real names rare, and the real places and names the grammar can still produce are refused.
"""

from __future__ import annotations

from .dice import Dice

ONSETS = tuple("b d f g h k l m n p r s t v z br dr kr tr th".split())  # noqa: SIM905 (one readable line)
VOWELS = ("a", "e", "i", "o", "u")
CODAS = ("n", "r", "l", "s", "k", "m")

_FEMALE_ENDINGS = ("a", "a", "i", "ia")
_MALE_CODAS = ("n", "n", "k", "th", "x", "z")  # few English words end like this
_FAMILY_SUFFIXES = ("dane", "bor", "vell", "rix", "mund", "wick", "lo", "sen", "gast", "dor")
_CITY_SUFFIXES = ("mora", "holm", "vik", "gard", "stad", "beck", "ton", "ara", "field", "port")
_COUNTRY_SUFFIXES = ("ia", "and", "ar", "esh", "ovia", "ia")
_ORG_KINDS = ("Works", "Group", "Company", "Guild", "House", "Trading", "Partners", "Labs")
_AWARD_KINDS = ("Prize", "Medal", "Award", "Cup")

# Real places, famous names and English words the grammar can produce; never used. Not exhaustive:
# it removes the collisions that would carry real-world knowledge (countries, cities, figures).
_REFUSED = frozenset(
    """
    Romania Nigeria Liberia Siberia Bavaria Samaria Tunisia Somalia Bohemia Livonia Valeria Malaria
    Begonia Petunia Samara Tiara Zamora Narvik Larvik Dalvik Lubeck Holbeck Garfield Boston Milton
    Linton Kenton Merton Burton Norton Horton Morton Dalton Bolton Halton Renton Denton Benton Hinton
    Hampton Newport Bristol Denmark Poland Finland Holland Milan Sudan Gabon Kazan Busan Medan Nepal
    Kabul Dakar Lagos Davos Delos Samos Paros Milos Tinos Roman Human Satan Titan Divan Sedan Simon
    Gavin Devin Kevin Robin Melon Lemon Demon Bison Baron Heron Siren Linen Token Ramen Semen Lumen
    Talon Salon Woven Kodak Batik Kapok Havok Borax Relax Latex Telex Redux Topaz Gareth Hamas Midas
    Venus Titus Linus Moses Hades Maria Dana Mona Nina Tina Lena Rita Sara Vera Lisa Lima Sofa Tuna
    Diva Toga Soda Data Mega Tuba Lava Koala Panda Mini Taxi Kara Lara Nora Dora Zara Tara Mara Rosa
    Gina Hana Kali Bali Fiji Mali Doha Goa Riga Lusaka Nairobi Havana Tirana Sparta Medina
    """.split()  # noqa: SIM905 (a word list reads best as words)
)


def _syllable(dice: Dice, coda: float = 0.0) -> str:
    syl = dice.pick(ONSETS) + dice.pick(VOWELS)
    if coda and dice.chance(coda):
        syl += dice.pick(CODAS)
    return syl


class NameMaker:
    """Draws names of each kind; every name it returns (of any kind) is new within this maker."""

    def __init__(self, dice: Dice) -> None:
        self._dice = dice
        self._used: set[str] = set()  # membership only; never iterated (iteration order is not stable)

    def _fresh(self, build) -> str:
        for _ in range(10_000):
            name = build()
            if name not in self._used and not any(part in _REFUSED for part in name.split()):
                self._used.add(name)
                return name
        raise RuntimeError("name space exhausted; enlarge the syllable inventory")

    def given(self, female: bool) -> str:
        d = self._dice

        def build() -> str:
            stem = _syllable(d) + (_syllable(d) if d.chance(0.3) else "") + d.pick(ONSETS[:15])
            if female:
                return (stem + d.pick(_FEMALE_ENDINGS)).capitalize()
            return (stem + d.pick(VOWELS) + d.pick(_MALE_CODAS)).capitalize()

        return self._fresh(build)

    def family(self) -> str:
        """Family names may repeat across people (relatives); only full names must be unique."""
        d = self._dice
        return (_syllable(d, coda=0.4) + d.pick(_FAMILY_SUFFIXES)).capitalize()

    def full(self, given: str) -> str:
        return self._fresh(lambda: f"{given} {self.family()}")

    def city(self) -> str:
        d = self._dice
        return self._fresh(lambda: (_syllable(d, coda=0.5) + d.pick(_CITY_SUFFIXES)).capitalize())

    def country(self) -> str:
        d = self._dice
        return self._fresh(
            lambda: (_syllable(d) + _syllable(d, 1.0) + d.pick(_COUNTRY_SUFFIXES)).capitalize()
        )

    def organization(self) -> str:
        d = self._dice
        return self._fresh(lambda: f"{(_syllable(d) + _syllable(d, 0.6)).capitalize()} {d.pick(_ORG_KINDS)}")

    def award(self) -> str:
        d = self._dice
        return self._fresh(
            lambda: f"the {(_syllable(d) + _syllable(d, 0.6)).capitalize()} {d.pick(_AWARD_KINDS)}"
        )
