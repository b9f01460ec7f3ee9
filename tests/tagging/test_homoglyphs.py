"""Homoglyphs and invisible characters do not hide names (issue #13 item 4).

The class, not one case: every name, group and incident word of the sentences below, in
English, Russian and Kazakh, with each of its letters that has a confusable in the other
script swapped (one letter at a time, and all but the majority), in both directions
(Cyrillic into Latin words, Latin into Cyrillic words); every letter pair of the fold table is
exercised; invisible characters inside words; real words of one script are never changed.
End to end: a page goes through extract + tag + index on the real Elasticsearch and is found
by a place filter and a region filter.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from enrich.tagging import Tagger
from enrich.tagging.confusables import INVISIBLE, clean, fold_tables, fold_token

HERE = Path(__file__).resolve().parent

# (language, sentence): each names places, groups, bodies and incidents the tagger knows.
SENTENCES = [
    ("en", "Police in Atyrau detained members of Jund al-Khilafah after the bombing."),
    ("en", "The KNB said Hizb ut-Tahrir recruiters were arrested in Taraz and Shymkent."),
    ("en", "Gunmen attacked a checkpoint near Aktobe; the National Security Committee responded."),
    ("en", "Explosion in Makhachkala and a hostage taking in Kyzylorda, Kazakhstan."),
    ("en", "Islamic State militants were sentenced by a court in Zhanaozen, Kazakhstan."),
    ("en", "A riot broke out in a penal colony in Karaganda; ISIS propaganda was found."),
    ("en", "Taliban fighters from Afghanistan; Uzbekistan and Kyrgyzstan closed the border."),
    ("en", "Ekibastuz, Temirtau and Petropavl police reported an armed attack in Kazakhstan."),
    ("en", "OSCE observers in Oskemen and Uralsk saw a protest; KNB officers detained YOUTHS."),
    ("en", "EXPLOSION IN XINJIANG, NEAR KHORGOS: KAZAKHSTAN CLOSED THE BORDER WITH CHINA."),
    ("en", "TERRORISTS HELD IN AKTOBE: THE KNB OF KAZAKHSTAN SAYS ISIS RECRUITERS WERE ARRESTED."),
    ("ru", "В Атырау задержаны члены «Джунд аль-Халифат» после взрыва."),
    ("ru", "КНБ сообщил о задержании вербовщиков Хизб ут-Тахрир в Таразе и Шымкенте."),
    ("ru", "Вооруженное нападение на полицию в Актобе, погибли двое, Казахстан."),
    ("ru", "Террористы «Исламского государства» осуждены судом в Караганде."),
    ("ru", "Перестрелка в Кызылорде, заложники освобождены, сообщает МВД Казахстана."),
    ("ru", "Массовые беспорядки в Жанаозене и теракт в Актюбинской области."),
    ("ru", "Экибастуз, Темиртау и Костанай: полиция провела спецоперацию в Казахстане."),
    ("ru", "ВЗРЫВ В АТЫРАУ: КНБ КАЗАХСТАНА ЗАДЕРЖАЛ ТРОИХ. ОБЫСК В УРАЛЬСКЕ И ОСКЕМЕНЕ."),
    ("kk", "Атырауда жарылыс болды, ҰҚК күдіктілерді ұстады."),
    ("kk", "Ақтөбеде қарулы шабуыл болды, Қазақстан полициясы хабарлады."),
    ("kk", "Шымкентте Ислам мемлекеті тобының мүшелері сотталды."),
    ("kk", "Қарағанды облысында террорлық қауіп деңгейі жарияланды, Өскеменде митинг өтті."),
    ("kk", "Тараз бен Түркістанда экстремистік әдебиет тәркіленді, Қазақстан."),
    ("kk", "ҮШАРАЛДА ЖАРЫЛЫС БОЛДЫ, ҚАЗАҚСТАН ҰҚК ХАБАРЛАДЫ; Үшарал тұрғындары күдіктіні ұстады."),
    ("kk", "Жиһадшылар Атырауда ұсталды, ҰҚК мәлімдеді."),
]


def _key(result: dict) -> tuple:
    entities = sorted(e["id"] for e in result["entities"])
    return entities, sorted(result["incident_types"]), result["kz_security"]["relevant"]


def _tag(tagger: Tagger, text: str) -> dict:
    return tagger.tag({"title": "", "text": text})


def _swaps(word: str) -> list[tuple[str, str, str]]:
    """(variant, original letter, replacement) for each letter with a cross-script homoglyph."""
    tables = fold_tables()
    latin = sum(ch.isascii() and ch.isalpha() for ch in word)
    cyrillic_word = latin < len(word) / 2
    tables_used = [tables.to_latin] if cyrillic_word else [tables.to_cyrillic, tables.to_kazakh]
    out = []
    for table in tables_used:
        for i, ch in enumerate(word):
            other = table.get(ord(ch))
            if other:
                out.append((word[:i] + other + word[i + 1 :], ch, other))
    return out


def _minority_swap(word: str) -> str | None:
    """Each token (``\\w+``) of the word with as many letters swapped as keeps its script."""
    tables = fold_tables()
    chars, swapped = list(word), 0
    for token in re.finditer(r"\w+", word):
        text = token.group()
        latin = sum(ch.isascii() and ch.isalpha() for ch in text)
        table = tables.to_latin if latin < len(text) / 2 else tables.to_cyrillic
        budget = (sum(ch.isalpha() for ch in text) - 1) // 2
        used = 0
        for i in range(token.start(), token.end()):
            if used < budget and table.get(ord(chars[i])):
                chars[i] = table[ord(chars[i])]
                used += 1
        swapped += used
    return "".join(chars) if swapped else None


@pytest.mark.parametrize(("language", "sentence"), SENTENCES)
def test_every_single_letter_homoglyph_is_folded(
    tagger: Tagger, language: str, sentence: str
) -> None:
    expected = _key(_tag(tagger, sentence))
    assert expected[0], f"the clean {language} sentence must tag something"
    words = sentence.split()
    failures = []
    for index, word in enumerate(words):
        variants = [v for v, _, _ in _swaps(word)]
        minority = _minority_swap(word)
        variants += [minority] if minority else []
        for variant in variants:
            text = " ".join([*words[:index], variant, *words[index + 1 :]])
            got = _key(_tag(tagger, text))
            if got != expected:
                failures.append((variant, got))
    assert failures == []


def test_every_letter_pair_of_the_table_is_exercised() -> None:
    tables = fold_tables()
    # (a, b): letter a of a word replaced by its homoglyph b of the other script.
    used = {(orig, repl) for _, s in SENTENCES for w in s.split() for _, orig, repl in _swaps(w)}
    table = {**tables.to_cyrillic, **tables.to_kazakh}
    pairs = {(chr(k), v) for k, v in tables.to_cyrillic.items()}
    pairs |= {(chr(k), v) for k, v in tables.to_kazakh.items()}
    # Both directions of every Latin→Cyrillic pair: a Cyrillic letter in a Latin word and a
    # Latin letter in a Cyrillic word (the Cyrillic→Latin table is their inverse, plus a few
    # letters no Russian or Kazakh word has, e.g. Macedonian ѕ).
    missing = {p for p in pairs if p not in used} | {p for p in pairs if (p[1], p[0]) not in used}
    assert table
    assert not missing, f"letter pairs no test sentence exercises: {sorted(missing)}"
    assert len(pairs) >= 20


def test_fold_table_comes_from_unicode_data() -> None:
    tables = fold_tables()
    assert tables.to_cyrillic[ord("a")] == "а" and tables.to_latin[ord("А")] == "A"
    assert tables.to_cyrillic[ord("i")] == "і"  # Kazakh і
    assert tables.to_cyrillic[ord("y")] == "у"  # Russian у before Kazakh ү
    assert ord("r") not in tables.to_cyrillic  # r/г look alike only in italics


@pytest.mark.parametrize(
    "word",
    [
        "Атырау",
        "Ақтөбе",
        "Өскемен",
        "Қарағанды",
        "Шымкент",
        "Жаңаөзен",
        "Atyrau",
        "Shymkent",
        "ҰҚК",
        "KNB",
        "Назарбаев",
        "Тоқаев",
        "Түркістан",
        "Іле",
        "Һ",
    ],
)
def test_words_of_one_script_are_never_changed(word: str) -> None:
    assert fold_token(word) == word


def test_real_texts_without_homoglyphs_are_left_as_they_are(shared_dir: Path) -> None:
    texts = [p.read_text(encoding="utf-8") for p in (shared_dir / "samples" / "articles").glob("*")]
    data = yaml.safe_load((HERE / "labelled.yaml").read_text(encoding="utf-8"))
    texts += [t["text"] for t in data["texts"]]
    changed = [t[:60] for t in texts if clean(t).text != t]
    assert changed == []


def test_a_kazakh_word_typed_with_latin_i_is_folded() -> None:
    assert fold_token("Бiрлiк") == "Бірлік"
    assert fold_token("Өскемендегi") == "Өскемендегі"


@pytest.mark.parametrize("char", list(INVISIBLE))
def test_invisible_characters_inside_words_do_not_defeat_matching(
    tagger: Tagger, char: str
) -> None:
    clean_text = "Police in Atyrau detained Jund al-Khilafah members."
    text = clean_text.replace("Atyrau", f"Aty{char}rau").replace("Khilafah", f"Khi{char}lafah")
    result = _tag(tagger, text)
    assert _key(result) == _key(_tag(tagger, clean_text))
    offsets = {e["id"]: e["first_offset"] for e in result["entities"]}
    assert offsets["place:atyrau"] == text.index("Aty")
    assert offsets["group:jund-al-khilafah"] == text.index("Jund")


def test_offsets_point_into_the_original_text_after_many_invisible_characters(
    tagger: Tagger,
) -> None:
    text = "\u200b\u200b\ufeffВзрыв\u200d в А\u200bтыр\u2060ау; \u00adКНБ задержал\u200b двоих."
    result = _tag(tagger, text)
    offsets = {e["id"]: e["first_offset"] for e in result["entities"]}
    assert text[offsets["place:atyrau"]] == "А"
    assert text[offsets["org:knb"]] == "К" or text[offsets["org:knb"] - 1] == "\u00ad"


def test_homoglyph_title_is_folded_too(tagger: Tagger) -> None:
    result = tagger.tag({"title": "Blаst in Аtyrau", "text": "Two people were hurt."})
    assert "place:atyrau" in {e["id"] for e in result["entities"]}
    assert "bombing" in result["incident_types"]


@pytest.mark.integration
def test_homoglyph_page_is_found_by_place_and_region_filter(
    es, prefix, tmp_path: Path, dead_letter_dir: Path
) -> None:
    """A page written with homoglyphs through extract + tag + index, found by its place."""
    from enrich.batch import enrich_batch
    from kzmon.indexer import index_batch_file
    from kzmon.indexer.search import SearchFilters, search_articles
    from kzmon.indexer.setup import ensure_setup

    paragraphs = [
        "Twо blasts hit the оffices оf the regional administratiоn in Аtyrau оn Mоnday.",
        "The Natiоnal Security Cоmmittee оf Kazakhstan said members оf Jund al-Khilafah "
        "had planned the bоmbing; pоlice detained three suspects in Aty\u200brau.",
        "Взрыв в Aтырay: КНБ Казахстана задержал троих подозреваемых.",
    ]
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    html = (
        "<html><head><title>Blаsts in Аtyrau</title></head><body><article>"
        f"<h1>Blаsts in Аtyrau</h1>{body}</article></body></html>"
    )
    page = {
        "url": "https://www.rferl.org/a/homoglyph-atyrau/1.html",
        "canonical_url": "https://www.rferl.org/a/homoglyph-atyrau/1.html",
        "outlet": "rferl",
        "fetched_at": "2026-11-21T10:00:00+00:00",
        "status": 200,
        "content_type": "text/html",
        "html": html,
        "discovered_via": "sitemap",
    }
    pages = tmp_path / "pages.jsonl"
    pages.write_text(json.dumps(page) + "\n", encoding="utf-8")
    result = enrich_batch(pages)
    assert result.extracted == 1, result
    article = json.loads(Path(result.articles_path).read_text(encoding="utf-8").splitlines()[0])
    ids = {e["id"] for e in article["entities"]}
    assert {"place:atyrau", "org:knb", "group:jund-al-khilafah"} <= ids
    atyrau = next(e for e in article["entities"] if e["id"] == "place:atyrau")
    assert atyrau["admin1"] == "place:atyrau-region"
    assert article["kz_security"]["relevant"] is True
    ensure_setup(es)
    index_batch_file(Path(result.articles_path), es=es, dead_letter_dir=dead_letter_dir)
    es.indices.refresh(index=f"{prefix}-articles")
    found = search_articles("", es=es, filters=SearchFilters(entities=["place:atyrau"]))
    assert found.total == 1
    doc = es.get(index=f"{prefix}-articles", id=found.hits[0].doc_id)["_source"]
    assert doc["region_ids"] == ["place:atyrau-region"]
    by_region = es.count(
        index=f"{prefix}-articles", query={"term": {"region_ids": "place:atyrau-region"}}
    )
    assert by_region["count"] == 1
