"""The world's closed word lists: jobs and what they do, foods, a sentiment lexicon, cause-effect rules.

These lists are the "commonsense" of synthworld. The corpus states them (stories show a baker baking
bread; reviews pair adjectives with star ratings) and the tasks rely on them, so what a model needs to
know is known exactly. Kept small on purpose: the default study trains a 2-4k-token BPE.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Occupation:
    name: str  # "baker"
    industry: str  # the industry of the organizations that employ it
    base: str  # "bake fresh bread"  (what the job does, infinitive)
    past: str  # "baked fresh bread"
    present: str  # "bakes fresh bread"


# fmt: off
OCCUPATIONS: tuple[Occupation, ...] = (
    Occupation("baker", "food", "bake fresh bread", "baked fresh bread", "bakes fresh bread"),
    Occupation("cook", "food", "cook a big pot of stew", "cooked a big pot of stew", "cooks big pots of stew"),
    Occupation("farmer", "food", "plant beans in the field", "planted beans in the field", "plants beans in the field"),
    Occupation("pilot", "transport", "fly a plane over the hills", "flew a plane over the hills", "flies planes over the hills"),
    Occupation("driver", "transport", "drive the bus across town", "drove the bus across town", "drives the bus across town"),
    Occupation("sailor", "transport", "sail a boat along the coast", "sailed a boat along the coast", "sails boats along the coast"),
    Occupation("doctor", "health", "treat a patient with a fever", "treated a patient with a fever", "treats patients with a fever"),
    Occupation("nurse", "health", "change a patient's bandage", "changed a patient's bandage", "changes patients' bandages"),
    Occupation("teacher", "education", "teach children to read", "taught children to read", "teaches children to read"),
    Occupation("librarian", "education", "sort the books on the shelves", "sorted the books on the shelves", "sorts the books on the shelves"),
    Occupation("builder", "construction", "lay bricks for a new wall", "laid bricks for a new wall", "lays bricks for new walls"),
    Occupation("carpenter", "construction", "make a wooden table", "made a wooden table", "makes wooden tables"),
    Occupation("painter", "construction", "paint the walls of a house", "painted the walls of a house", "paints the walls of houses"),
    Occupation("writer", "media", "write a chapter of a book", "wrote a chapter of a book", "writes chapters of books"),
    Occupation("photographer", "media", "take photographs of the market", "took photographs of the market", "takes photographs of markets"),
    Occupation("singer", "media", "sing a song on the stage", "sang a song on the stage", "sings songs on the stage"),
    Occupation("engineer", "technology", "repair a broken machine", "repaired a broken machine", "repairs broken machines"),
    Occupation("programmer", "technology", "write code for a new program", "wrote code for a new program", "writes code for new programs"),
    Occupation("banker", "finance", "count the money in the vault", "counted the money in the vault", "counts the money in the vault"),
    Occupation("clerk", "finance", "file papers at the front desk", "filed papers at the front desk", "files papers at the front desk"),
)
# fmt: on
OCCUPATION_BY_NAME = {o.name: o for o in OCCUPATIONS}
INDUSTRIES = ("food", "transport", "health", "education", "construction", "media", "technology", "finance")

FOODS = (
    "plum pie",
    "fish soup",
    "rice with beans",
    "noodles",
    "goat cheese",
    "apple cake",
    "pancakes",
    "dumplings",
    "roasted pears",
    "berry jam",
    "barley bread",
    "onion stew",
)
CITY_FEATURES = (
    "its old stone bridge",
    "a busy river market",
    "its narrow streets",
    "a tall clock tower",
    "the green hills around it",
    "a quiet harbour",
    "a large public library",
    "its windy beaches",
    "the apple orchards nearby",
    "a night market",
    "its red roofs",
    "a famous music hall",
)

# The sentiment lexicon: (positive, negative) adjectives for each kind of thing a review judges.
SENTIMENT: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "people": (
        ("friendly", "helpful", "cheerful", "kind", "patient", "polite"),
        ("rude", "unhelpful", "grumpy", "careless", "impatient", "cold"),
    ),
    "place": (
        ("clean", "cozy", "calm", "lovely", "bright", "pleasant"),
        ("dirty", "cramped", "noisy", "gloomy", "messy", "dull"),
    ),
    "service": (
        ("quick", "reliable", "excellent", "careful", "wonderful", "smooth"),
        ("slow", "sloppy", "awful", "dreadful", "terrible", "chaotic"),
    ),
    "taste": (("delicious", "fresh", "tasty", "hot"), ("stale", "bland", "greasy", "burnt")),
}
# (what is judged, its verb, its kind in SENTIMENT)
ASPECTS: tuple[tuple[str, str, str], ...] = (
    ("the staff", "were", "people"),
    ("the people at the desk", "were", "people"),
    ("the service", "was", "service"),
    ("the whole visit", "was", "service"),
    ("the place", "was", "place"),
    ("the waiting room", "was", "place"),
    ("the coffee", "was", "taste"),
    ("the soup they served", "was", "taste"),
)
VERDICTS = {
    True: (
        "I would gladly come back.",
        "I will tell my friends to go.",
        "Worth every coin.",
        "A good day, all in all.",
    ),
    False: (
        "I will not come back.",
        "I cannot recommend it.",
        "What a waste of an afternoon.",
        "Never again.",
    ),
}

# (cause, effect): "{x}" is a person, "{poss}" their possessive pronoun. Effects are specific to causes,
# so that a wrong pairing is implausible.
CAUSE_EFFECT: tuple[tuple[str, str], ...] = (
    ("it began to rain", "{x} opened an umbrella"),
    ("{x} was hungry", "{x} ate a bowl of fish soup"),
    ("{x} was very tired", "{x} went to bed early"),
    ("{x} missed the last bus", "{x} walked home"),
    ("{x} dropped a glass on the floor", "the glass broke into pieces"),
    ("the room was dark", "{x} turned on a lamp"),
    ("{x} was cold", "{x} put on a warm coat"),
    ("{x} was thirsty", "{x} drank a cup of water"),
    ("{x} lost {poss} keys", "{x} could not open the front door"),
    ("{x} felt sick", "{x} went to see a doctor"),
    ("the road was covered in snow", "{x} stayed at home all day"),
    ("{x} forgot {poss} umbrella", "{x} got wet in the rain"),
    ("the music was too loud", "{x} covered {poss} ears"),
    ("{x} studied every night", "{x} passed the exam"),
    ("it was {poss} friend's birthday", "{x} bought a small gift"),
    ("the milk had gone sour", "{x} poured it down the sink"),
    ("the kettle whistled", "{x} made a pot of tea"),
    ("{x} heard a knock at the door", "{x} went to see who was there"),
)

# Non-factual connective sentences; they vary the text without claiming anything about the world.
FILLERS = (
    "It was a quiet afternoon.",
    "Nobody expected what came next.",
    "The neighbours still talk about it.",
    "Few people knew this at the time.",
    "That is how the story is usually told.",
    "Things were different back then.",
    "It happened on an ordinary Tuesday.",
    "Some people remember it well.",
    "The weather was mild that week.",
    "Life went on as usual.",
    "Everyone agreed it was a good idea.",
    "There was a lot of work to do.",
    "Children played in the street outside.",
    "A cold wind came down from the hills.",
    "The shops closed early that day.",
    "It took a while, but it was worth it.",
    "Not everyone was happy about it.",
    "The evening was long and calm.",
)
