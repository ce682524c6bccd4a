"""What the sim knows: colours, object concepts, materials, motions, settings, characters.

Concepts carry implied attributes ("basketball" is an orange rubber ball), so a noun the
prompt uses, or the nearest known one by sentence-embedding similarity, fills in what the
prompt leaves open.
"""

from __future__ import annotations

from dataclasses import dataclass

from reelforge.types import RGB, FloorKind, Material, ObjectKind, SettingKind, SizeClass

# Hues are kept far apart so that a colour asked for is a colour seen (and measured).
COLORS: dict[str, RGB] = {
    "red": (214, 40, 40),
    "orange": (245, 130, 20),
    "yellow": (250, 210, 30),
    "green": (46, 170, 70),
    "blue": (35, 90, 220),
    "purple": (135, 60, 190),
    "pink": (240, 110, 170),
    "cyan": (30, 200, 220),
    "brown": (130, 80, 40),
    "white": (240, 240, 236),
    "black": (28, 28, 32),
    "gray": (128, 128, 132),
    "gold": (212, 175, 55),
    "silver": (190, 192, 200),
}
COLOR_ALIASES: dict[str, str] = {
    "grey": "gray", "crimson": "red", "scarlet": "red", "violet": "purple", "magenta": "pink",
    "turquoise": "cyan", "teal": "cyan", "navy": "blue", "golden": "gold", "tan": "brown",
    "lime": "green", "emerald": "green", "azure": "blue", "amber": "orange", "ivory": "white",
}

MATERIALS: tuple[Material, ...] = ("rubber", "wood", "metal", "glass", "plastic", "stone", "ice")
MATERIAL_WORDS: dict[str, Material] = {
    "rubber": "rubber", "bouncy": "rubber", "wooden": "wood", "wood": "wood",
    "metal": "metal", "metallic": "metal", "steel": "metal", "iron": "metal", "copper": "metal",
    "aluminum": "metal", "aluminium": "metal", "glass": "glass", "crystal": "glass",
    "plastic": "plastic", "stone": "stone", "rock": "stone", "marble": "stone",
    "concrete": "stone", "granite": "stone", "ice": "ice", "icy": "ice", "frozen": "ice",
}
# Default colour of a material when the prompt names none.
MATERIAL_COLORS: dict[Material, str] = {
    "wood": "brown", "metal": "silver", "glass": "cyan", "stone": "gray", "ice": "white",
    "rubber": "red", "plastic": "blue",
}

SIZE_WORDS: dict[str, SizeClass] = {
    "tiny": "small", "small": "small", "little": "small", "mini": "small",
    "medium": "medium", "mid-sized": "medium",
    "big": "large", "large": "large", "huge": "large", "giant": "large", "heavy": "large",
}

MOTION_WORDS: dict[str, str] = {
    "bounce": "bounce", "bounces": "bounce", "bouncing": "bounce", "bounced": "bounce",
    "roll": "roll", "rolls": "roll", "rolling": "roll", "rolled": "roll",
    "fall": "fall", "falls": "fall", "falling": "fall", "fell": "fall", "drop": "fall",
    "drops": "fall", "dropping": "fall", "dropped": "fall", "tumble": "fall", "tumbles": "fall",
    "slide": "slide", "slides": "slide", "sliding": "slide", "slid": "slide", "skid": "slide",
    "skids": "slide", "glide": "slide", "glides": "slide",
    "collide": "collide", "collides": "collide", "colliding": "collide", "crash": "collide",
    "crashes": "collide", "smash": "collide", "smashes": "collide", "hit": "collide",
    "hits": "collide", "bump": "collide", "bumps": "collide",
    "throw": "throw", "throws": "throw", "thrown": "throw", "toss": "throw", "tossed": "throw",
    "tosses": "throw", "fly": "throw", "flies": "throw", "launch": "throw", "launched": "throw",
    "rest": "rest", "rests": "rest", "sit": "rest", "sits": "rest", "lie": "rest", "lies": "rest",
    "still": "rest", "stand": "rest", "stands": "rest",
}

NUMBER_WORDS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "single": 1, "two": 2, "pair": 2, "couple": 2, "three": 3,
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "dozen": 12, "thirteen": 13, "fifteen": 15, "twenty": 20,
    "thirty": 30, "fifty": 50, "hundred": 100, "dozens": 24, "hundreds": 200, "several": 3, "some": 3, "few": 3, "many": 6,
}


@dataclass(frozen=True)
class ObjectConcept:
    """A noun the sim can draw, with what it implies."""

    noun: str
    kind: ObjectKind
    color: str | None = None
    material: Material | None = None
    size: SizeClass | None = None


OBJECT_CONCEPTS: tuple[ObjectConcept, ...] = (
    ObjectConcept("ball", "ball"),
    ObjectConcept("sphere", "ball"),
    ObjectConcept("orb", "ball"),
    ObjectConcept("bubble", "ball", "cyan", "glass", "small"),
    ObjectConcept("marble", "ball", "blue", "glass", "small"),
    ObjectConcept("basketball", "ball", "orange", "rubber", "medium"),
    ObjectConcept("football", "ball", "white", "rubber", "medium"),
    ObjectConcept("soccer ball", "ball", "white", "rubber", "medium"),
    ObjectConcept("tennis ball", "ball", "yellow", "rubber", "small"),
    ObjectConcept("beach ball", "ball", "red", "plastic", "large"),
    ObjectConcept("bowling ball", "ball", "black", "stone", "medium"),
    ObjectConcept("ping pong ball", "ball", "white", "plastic", "small"),
    ObjectConcept("cannonball", "ball", "black", "metal", "medium"),
    ObjectConcept("orange", "ball", "orange", "plastic", "small"),
    ObjectConcept("apple", "ball", "red", "wood", "small"),
    ObjectConcept("melon", "ball", "green", "wood", "large"),
    ObjectConcept("pumpkin", "ball", "orange", "wood", "large"),
    ObjectConcept("snowball", "ball", "white", "ice", "small"),
    ObjectConcept("egg", "ball", "white", "glass", "small"),
    ObjectConcept("box", "box"),
    ObjectConcept("cube", "box"),
    ObjectConcept("block", "box"),
    ObjectConcept("crate", "box", "brown", "wood", "large"),
    ObjectConcept("brick", "box", "red", "stone", "small"),
    ObjectConcept("die", "box", "white", "plastic", "small"),
    ObjectConcept("dice", "box", "white", "plastic", "small"),
    ObjectConcept("book", "box", "blue", "wood", "small"),
    ObjectConcept("parcel", "box", "brown", "wood", "medium"),
    ObjectConcept("package", "box", "brown", "wood", "medium"),
    ObjectConcept("suitcase", "box", "black", "plastic", "large"),
    ObjectConcept("ice cube", "box", "white", "ice", "small"),
    ObjectConcept("safe", "box", "gray", "metal", "large"),
    ObjectConcept("gift", "box", "red", "plastic", "medium"),
    ObjectConcept("triangle", "triangle"),
    ObjectConcept("pyramid", "triangle"),
    ObjectConcept("wedge", "triangle", "yellow", "wood"),
    ObjectConcept("cone", "triangle", "orange", "plastic"),
    ObjectConcept("capsule", "capsule"),
    ObjectConcept("pill", "capsule", "white", "plastic", "small"),
    ObjectConcept("can", "capsule", "silver", "metal", "small"),
    ObjectConcept("bottle", "capsule", "green", "glass", "small"),
    ObjectConcept("barrel", "capsule", "brown", "wood", "large"),
    ObjectConcept("cylinder", "capsule"),
    ObjectConcept("log", "capsule", "brown", "wood", "large"),
    ObjectConcept("plank", "plank", "brown", "wood"),
    ObjectConcept("board", "plank", "brown", "wood"),
    ObjectConcept("beam", "plank", "gray", "metal"),
    ObjectConcept("stick", "plank", "brown", "wood", "small"),
    ObjectConcept("ruler", "plank", "yellow", "plastic", "small"),
    ObjectConcept("bar", "plank", "silver", "metal", "small"),
)
OBJECT_NOUNS: dict[str, ObjectConcept] = {c.noun: c for c in OBJECT_CONCEPTS}


@dataclass(frozen=True)
class SettingConcept:
    noun: str
    kind: SettingKind
    floor: FloorKind
    indoor: bool
    ambience: str


SETTING_CONCEPTS: tuple[SettingConcept, ...] = (
    SettingConcept("room", "room", "wood", True, "room_tone"),
    SettingConcept("living room", "room", "carpet", True, "room_tone"),
    SettingConcept("bedroom", "room", "carpet", True, "room_tone"),
    SettingConcept("office", "room", "carpet", True, "room_tone"),
    SettingConcept("classroom", "room", "tile", True, "crowd"),
    SettingConcept("kitchen", "kitchen", "tile", True, "room_tone"),
    SettingConcept("bathroom", "kitchen", "tile", True, "room_tone"),
    SettingConcept("restaurant", "kitchen", "tile", True, "crowd"),
    SettingConcept("cafe", "kitchen", "wood", True, "crowd"),
    SettingConcept("gym", "gym", "wood", True, "crowd"),
    SettingConcept("gymnasium", "gym", "wood", True, "crowd"),
    SettingConcept("court", "gym", "wood", True, "crowd"),
    SettingConcept("stadium", "gym", "grass", False, "crowd"),
    SettingConcept("studio", "studio", "concrete", True, "room_tone"),
    SettingConcept("stage", "studio", "wood", True, "crowd"),
    SettingConcept("warehouse", "warehouse", "concrete", True, "room_tone"),
    SettingConcept("garage", "warehouse", "concrete", True, "room_tone"),
    SettingConcept("factory", "warehouse", "concrete", True, "room_tone"),
    SettingConcept("street", "street", "asphalt", False, "traffic"),
    SettingConcept("road", "street", "asphalt", False, "traffic"),
    SettingConcept("city", "street", "asphalt", False, "traffic"),
    SettingConcept("parking lot", "street", "asphalt", False, "traffic"),
    SettingConcept("market", "street", "asphalt", False, "crowd"),
    SettingConcept("park", "park", "grass", False, "birds"),
    SettingConcept("garden", "park", "grass", False, "birds"),
    SettingConcept("meadow", "park", "grass", False, "birds"),
    SettingConcept("field", "park", "grass", False, "wind"),
    SettingConcept("playground", "park", "sand", False, "crowd"),
    SettingConcept("beach", "beach", "sand", False, "waves"),
    SettingConcept("shore", "beach", "sand", False, "waves"),
    SettingConcept("ocean", "beach", "sand", False, "waves"),
    SettingConcept("forest", "forest", "dirt", False, "birds"),
    SettingConcept("woods", "forest", "dirt", False, "birds"),
    SettingConcept("jungle", "forest", "dirt", False, "birds"),
    SettingConcept("desert", "desert", "sand", False, "wind"),
    SettingConcept("canyon", "desert", "dirt", False, "wind"),
    SettingConcept("mountain", "desert", "dirt", False, "wind"),
)
SETTING_NOUNS: dict[str, SettingConcept] = {c.noun: c for c in SETTING_CONCEPTS}

FLOOR_WORDS: dict[str, FloorKind] = {
    "wooden floor": "wood", "wood floor": "wood", "parquet": "wood", "tiles": "tile",
    "tiled": "tile", "tile": "tile", "concrete": "concrete", "carpet": "carpet", "rug": "carpet",
    "grass": "grass", "lawn": "grass", "sand": "sand", "asphalt": "asphalt", "dirt": "dirt",
}

CHARACTER_NOUNS: dict[str, str] = {
    "man": "man", "men": "man", "guy": "man", "gentleman": "man", "father": "man", "dad": "man",
    "grandfather": "man", "grandpa": "man", "chef": "person", "teacher": "person",
    "woman": "woman", "women": "woman", "lady": "woman", "mother": "woman", "mom": "woman",
    "grandmother": "woman", "grandma": "woman", "boy": "boy", "girl": "girl", "kid": "person",
    "child": "person", "person": "person", "people": "person", "friend": "person",
    "friends": "person", "robot": "robot", "android": "robot", "stranger": "person",
    "narrator": "person", "host": "person", "reporter": "person", "student": "person",
}
SPEECH_VERBS = (
    "says", "said", "say", "asks", "asked", "ask", "shouts", "shouted", "shout", "whispers",
    "whispered", "whisper", "replies", "replied", "reply", "answers", "answered", "yells",
    "yelled", "exclaims", "exclaimed", "tells", "told", "announces", "announced", "calls",
    "called", "sings", "adds", "speaks", "responds", "responded", "mutters",
)
HAIR_WORDS: dict[str, str] = {
    "bald": "bald", "curly": "curly", "long": "long", "short": "short", "bun": "bun",
    "ponytail": "ponytail",
}
HAIR_COLORS: dict[str, RGB] = {
    "blonde": (222, 190, 110), "blond": (222, 190, 110), "brunette": (90, 55, 30),
    "red-haired": (170, 70, 30), "redhead": (170, 70, 30), "gray-haired": (170, 170, 170),
    "grey-haired": (170, 170, 170), "white-haired": (225, 225, 225), "dark-haired": (35, 25, 20),
}
SKIN_TONES: tuple[RGB, ...] = (
    (255, 219, 180), (241, 194, 150), (224, 172, 120), (198, 134, 90), (141, 85, 54),
    (98, 60, 38),
)
NATURAL_HAIR: tuple[RGB, ...] = (
    (35, 25, 20), (90, 55, 30), (150, 100, 50), (222, 190, 110), (170, 70, 30), (120, 120, 120),
)
CLOTHING_WORDS = ("shirt", "dress", "jacket", "coat", "sweater", "hoodie", "suit", "top", "t-shirt",
                  "uniform", "blouse", "vest")
FIRST_NAMES_FEMALE = ("Maya", "Ava", "Lena", "Sofia", "Nora", "Iris")
FIRST_NAMES_MALE = ("Leo", "Sam", "Omar", "Ben", "Kai", "Theo")

TIME_WORDS: dict[str, str] = {
    "night": "night", "midnight": "night", "evening": "sunset", "dusk": "sunset",
    "sunset": "sunset", "sunrise": "sunset", "dawn": "sunset", "golden hour": "sunset",
    "moonlit": "night", "dark": "night", "morning": "day", "noon": "day", "daylight": "day",
    "sunny": "day", "day": "day", "afternoon": "day",
}
WEATHER_WORDS: dict[str, str] = {
    "rain": "rain", "raining": "rain", "rainy": "rain", "storm": "rain", "stormy": "rain",
    "drizzle": "rain", "wind": "wind", "windy": "wind", "breezy": "wind", "gust": "wind",
    "snow": "snow", "snowy": "snow", "snowing": "snow",
}
CAMERA_PHRASES: dict[str, str] = {
    "pan left": "pan_left", "pans left": "pan_left", "panning left": "pan_left",
    "pan right": "pan_right", "pans right": "pan_right", "panning right": "pan_right",
    "zoom in": "zoom_in", "zooms in": "zoom_in", "zooming in": "zoom_in", "push in": "zoom_in",
    "dolly in": "zoom_in", "zoom out": "zoom_out", "zooms out": "zoom_out",
    "zooming out": "zoom_out", "pull back": "zoom_out", "pulls back": "zoom_out",
    "static": "static", "locked-off": "static", "tripod": "static",
}
AMBIENCE_WORDS: dict[str, str] = {
    "crowd": "crowd", "audience": "crowd", "cheering": "crowd", "busy": "crowd",
    "traffic": "traffic", "cars": "traffic", "birds": "birds", "birdsong": "birds",
    "waves": "waves", "surf": "waves", "quiet": "room_tone", "silent": "room_tone",
}
RAMP_WORDS = ("ramp", "slope", "incline", "hill", "slide down", "rolls down", "roll down")
