"""Whisper's language names, as OpenAI's `verbose_json` reports them ("en" -> "english").

The table is Whisper's own (openai/whisper, `whisper/tokenizer.py`, MIT licence): the
languages the model was trained on, keyed by the codes our transcripts store.
"""

from __future__ import annotations

WHISPER_LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian",
    "ko": "korean", "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish",
    "pl": "polish", "ca": "catalan", "nl": "dutch", "ar": "arabic", "sv": "swedish",
    "it": "italian", "id": "indonesian", "hi": "hindi", "fi": "finnish", "vi": "vietnamese",
    "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay", "cs": "czech",
    "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian",
    "la": "latin", "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak",
    "te": "telugu", "fa": "persian", "lv": "latvian", "bn": "bengali", "sr": "serbian",
    "az": "azerbaijani", "sl": "slovenian", "kn": "kannada", "et": "estonian",
    "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian",
    "sw": "swahili", "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala",
    "km": "khmer", "sn": "shona", "yo": "yoruba", "so": "somali", "af": "afrikaans",
    "oc": "occitan", "ka": "georgian", "be": "belarusian", "tg": "tajik", "sd": "sindhi",
    "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao", "uz": "uzbek",
    "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan",
    "tl": "tagalog", "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian",
    "ln": "lingala", "ha": "hausa", "ba": "bashkir", "jw": "javanese", "su": "sundanese",
    "yue": "cantonese",
}
# Names (and a few common aliases) back to codes, for a `language` form field written out.
_BY_NAME: dict[str, str] = {name: code for code, name in WHISPER_LANGUAGES.items()}
_BY_NAME.update({"burmese": "my", "valencian": "ca", "flemish": "nl", "haitian": "ht",
                 "letzeburgesch": "lb", "pushto": "ps", "panjabi": "pa", "moldavian": "ro",
                 "moldovan": "ro", "sinhalese": "si", "castilian": "es", "mandarin": "zh"})


def language_name(code: str | None) -> str:
    """``"en"`` -> ``"english"``; an unknown code is returned as it is; none -> ``""``."""
    if not code:
        return ""
    base = code.lower().split("-")[0].split("_")[0]
    return WHISPER_LANGUAGES.get(base, code)


def language_code(value: str) -> str | None:
    """A `language` field as a code: ISO-639-1 (``en``, ``en-US``) or a name (``English``).
    None when it is neither."""
    v = value.strip().lower().replace("_", "-")
    if v in WHISPER_LANGUAGES:
        return v
    if v.split("-")[0] in WHISPER_LANGUAGES:
        return v.split("-")[0]
    return _BY_NAME.get(v)
