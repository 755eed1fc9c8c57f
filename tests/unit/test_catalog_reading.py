"""Reading the catalog file, through the real loader: whatever bytes a person saves are
loaded as written or refused in words that name the file that was read, at any size.

Classes: encodings, YAML alias bombs (and loops, depth), duplicate keys with both lines,
parser errors without parser internals, values never printed unbounded, a screenful of
problems with a count of the rest, and the DOCKYARD_CATALOG path named in messages.
"""

from __future__ import annotations

import time

import pytest

from components.config.catalog_file import CatalogError, load_catalog, shown_path
from components.config.yaml_document import MAX_ALIAS_EXPANSION, MAX_DEPTH
from components.core.problems import MAX_LISTED_PROBLEMS, SHOWN_CHARACTERS
from tests.unit.catalog_files import RAW, edited, loaded, problems_at, refusal, service, text_of, write

TEXT = text_of(RAW)
SCREENFUL_LINES = MAX_LISTED_PROBLEMS + 2  # the heading, the problems, the count of the rest


def first_line_with(text: str, fragment: str, after: int = 0) -> int:
    """1-based number of the first line at or after line `after` holding `fragment`."""
    for number, line in enumerate(text.splitlines(), start=1):
        if number > after and fragment in line:
            return number
    raise AssertionError(f"{fragment!r} not in the text")


def assert_a_screenful(error: CatalogError) -> None:
    lines = str(error).splitlines()
    assert len(lines) <= SCREENFUL_LINES, len(lines)
    # A value is shown at most SHOWN_CHARACTERS long; the rest of a line is the key and words.
    assert all(len(line) < SHOWN_CHARACTERS + 400 for line in lines), max(map(len, lines))


# --- encodings --------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-32"])
def test_utf8_and_text_with_a_byte_order_mark_load_as_written(tmp_path, encoding):
    # utf-16 and utf-32 write a BOM, as editors on Windows do; utf-8-sig is UTF-8 with one.
    text = f"# café ☕\n{TEXT}"
    assert loaded(tmp_path, text.encode(encoding)) == loaded(tmp_path, text.encode("utf-8"))


def test_latin1_is_refused_naming_the_byte_where_it_is_and_the_encoding_expected(tmp_path):
    text = f"{TEXT}# café\n"
    error = refusal(tmp_path, text.encode("latin-1"))
    (why,) = problems_at(error, "(file)")
    assert f"the byte 0xe9 at line {len(text.splitlines())}, column 6 is not UTF-8" in why
    assert "save it as UTF-8" in why and "UnicodeDecodeError" not in str(error)


def test_utf16_without_a_byte_order_mark_is_refused_in_words(tmp_path):
    (why,) = problems_at(refusal(tmp_path, TEXT.encode("utf-16-le")), "(file)")
    assert "UTF-16 without a byte-order mark" in why and "save it as UTF-8" in why


def test_a_control_character_is_refused_with_its_line(tmp_path):
    lines = TEXT.splitlines()
    lines[2] += " \x07"
    (why,) = problems_at(refusal(tmp_path, "\n".join(lines)), "(file)")
    assert why.startswith("holds U+0007 at line 3,")


def test_a_nul_in_a_value_is_refused_as_no_process_can_receive_it(tmp_path):
    name = service()
    raw = edited(lambda raw: raw["services"][name].setdefault("env", {}).update(X="a\x00b"))
    assert "NUL" in problems_at(refusal(tmp_path, raw), f"services.{name}.env.X")[0]


# --- aliases ----------------------------------------------------------------------------------


def alias_bomb(levels: int, width: int = 9) -> str:
    """'Billion laughs': each anchor is a list of `width` aliases of the one before."""
    lines = [f"x-l0: &l0 [{', '.join(['lol'] * width)}]"]
    lines += [f"x-l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]" for level in range(1, levels)]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("field", ["command", "port", "env"])
def test_an_alias_bomb_in_a_field_is_refused_before_it_is_expanded(tmp_path, field):
    name = service()
    text = TEXT.replace(f"  {name}:\n", f"  {name}:\n    {field}: *l8\n", 1)  # 9**9 values
    started = time.monotonic()
    error = refusal(tmp_path, alias_bomb(9) + text)
    assert time.monotonic() - started < 5
    (why,) = problems_at(error, "(file)")
    assert f"its aliases (*name) add more than {MAX_ALIAS_EXPANSION:,} values" in why
    assert_a_screenful(error)


def test_a_large_expansion_within_the_bound_is_shown_bounded(tmp_path):
    # 9**5 values under the bound reach the models; the refusal prints a bounded value.
    name = service(port=True)
    text = TEXT.replace(f"  {name}:\n", f"  {name}:\n    command: *l4\n", 1)
    error = refusal(tmp_path, alias_bomb(5) + text)
    assert problems_at(error, f"services.{name}.command")
    assert_a_screenful(error)


def test_aliases_that_share_values_load_as_written(tmp_path):
    names = list(RAW["services"])
    raw = edited()
    anchored = raw["services"][names[0]]["resources"]
    for other in names[1:]:
        raw["services"][other]["resources"] = anchored  # safe_dump writes the shared map once: &id001, *id001
    assert "*id001" in text_of(raw)
    catalog = loaded(tmp_path, raw)
    assert {spec.resources for spec in catalog.services} == {catalog.services[0].resources}


def test_an_alias_loop_and_deep_nesting_are_refused(tmp_path):
    assert "a loop" in problems_at(refusal(tmp_path, "x-a: &a [*a]\n" + TEXT), "x-a")[0]
    deep = "x-deep: " + "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10) + "\n"
    error = refusal(tmp_path, deep + TEXT)
    assert any(f"nests deeper than {MAX_DEPTH} levels" in problem.allowed for problem in error.problems)
    assert_a_screenful(error)


# --- duplicate keys ----------------------------------------------------------------------------


def test_a_service_written_twice_is_refused_with_both_lines(tmp_path):
    name = service()
    text = f"{TEXT}  {name}:\n    image: example/app:1.0.0\n"  # services is the last section
    first = first_line_with(text, f"  {name}:")
    second = first_line_with(text, f"  {name}:", after=first)
    (why,) = problems_at(refusal(tmp_path, text), f"services.{name}")[:1]
    assert why.startswith(f"is written twice, at lines {first} and {second}")


def test_a_field_written_twice_is_refused_with_both_lines(tmp_path):
    name = service()
    text = TEXT.replace(f"  {name}:\n", f"  {name}:\n    resources: {{memory: 64Mi, cpu: 100m}}\n", 1)
    first = first_line_with(text, f"  {name}:")
    lines = [number for number, line in enumerate(text.splitlines(), 1) if number > first and line.startswith("    resources:")][:2]
    error = refusal(tmp_path, text)
    assert problems_at(error, f"services.{name}.resources") == [f"is written twice, at lines {lines[0]} and {lines[1]}: keep one (YAML would silently use the last)"]


def test_a_secret_written_twice_is_refused_with_both_lines(tmp_path):
    if not RAW.get("secrets"):
        pytest.skip("the catalog declares no secret")
    secret = next(iter(RAW["secrets"]))
    text = TEXT.replace("secrets:\n", f"secrets:\n  {secret}: {{generate: {{length: 32}}}}\n", 1)
    first = first_line_with(text, f"  {secret}:")
    second = first_line_with(text, f"  {secret}:", after=first)
    assert problems_at(refusal(tmp_path, text), f"secrets.{secret}")[0].startswith(f"is written twice, at lines {first} and {second}")


def test_a_duplicate_key_is_reported_with_every_other_problem(tmp_path):
    name = service(port=True)
    text = TEXT.replace(f"  {name}:\n", f"  {name}:\n    resources: {{memory: 64Mi, cpu: 100m}}\n    port: '80'\n", 1)
    keys = {problem.key for problem in refusal(tmp_path, text).problems}
    assert {f"services.{name}.resources", f"services.{name}.port"} <= keys


# --- messages ------------------------------------------------------------------------------------


def test_a_syntax_error_names_line_and_column_without_parser_internals(tmp_path):
    error = refusal(tmp_path, TEXT + "services: [\n")
    (why,) = problems_at(error, "(file)")
    assert why.startswith(f"is not valid YAML at line {len(TEXT.splitlines()) + 2}, column 1:")
    for internal in ("<unicode string>", "<stream end>", "Traceback", "yaml."):
        assert internal not in str(error)


def test_two_documents_and_an_unknown_tag_are_refused_in_words(tmp_path):
    assert "more than one YAML document" in problems_at(refusal(tmp_path, f"{TEXT}---\n{TEXT}"), "(file)")[0]
    tagged = TEXT.replace("services:\n", "x-tag: !!python/object:os.system x\nservices:\n", 1)
    assert "could not determine a constructor" in problems_at(refusal(tmp_path, tagged), "(file)")[0]


def test_the_file_read_is_named_as_given_when_outside_the_working_directory(tmp_path):
    name = service(port=True)
    path = write(tmp_path, edited(lambda raw: raw["services"][name].update(port="80")), "trial.yaml")
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert caught.value.source == str(path) == shown_path(path)
    assert f"the service catalog {path} has 1 problem(s):\n  - {path}: services.{name}.port = '80'" in str(caught.value)


def test_the_project_catalog_is_named_relative_to_the_project(monkeypatch):
    from testing.harness import PROJECT_DIR

    monkeypatch.chdir(PROJECT_DIR)
    assert shown_path(PROJECT_DIR / "catalog.yaml") == "catalog.yaml"


def test_many_problems_are_a_screenful_with_a_count_of_the_rest(tmp_path):
    name = service()
    count = MAX_LISTED_PROBLEMS + 15
    raw = edited(lambda raw: raw["services"][name].setdefault("env", {}).update({f"V{n}": True for n in range(count)}))
    error = refusal(tmp_path, raw)
    assert len(error.problems) == count
    assert_a_screenful(error)
    assert str(error).splitlines()[-1] == "  … and 15 more: fix these and run again to see the rest"


def test_a_long_value_is_shown_bounded(tmp_path):
    name = service()
    raw = edited(lambda raw: raw["services"][name].setdefault("env", {}).update(X="{hots:x}" + "y" * 200_000))
    error = refusal(tmp_path, raw)
    assert problems_at(error, f"services.{name}.env.X")
    assert_a_screenful(error)


def test_a_document_nested_a_million_deep_is_refused_not_a_crash(tmp_path):
    # libyaml's own composer recurses in C: this depth used to end the process.
    deep = "x-deep: " + "[" * 1_000_000 + "]" * 1_000_000 + "\n"
    assert any("nests deeper" in problem.allowed for problem in refusal(tmp_path, deep + TEXT).problems)


def test_merge_keys_load_as_yaml_defines_them(tmp_path):
    first, second = list(RAW["services"])[:2]

    def without_resources(raw):
        del raw["services"][first]["resources"], raw["services"][second]["resources"]

    text = text_of(edited(without_resources))
    text = text.replace(f"  {first}:\n", f"  {first}:\n    resources: &defaults {{memory: 64Mi, cpu: 100m}}\n", 1)
    text = text.replace(f"  {second}:\n", f"  {second}:\n    resources: {{<<: *defaults, cpu: 200m}}\n", 1)
    specs = loaded(tmp_path, text).by_name()
    assert (specs[first].resources.memory, specs[first].resources.cpu) == ("64Mi", "100m")
    assert (specs[second].resources.memory, specs[second].resources.cpu) == ("64Mi", "200m")


@pytest.mark.parametrize(("yaml_text", "words"), [
    ("x: *nope\n", "*nope names no anchor &nope"),
    ("x: !!set {a, b}\n", "is tagged !!set"),
    ("? [a]\n: 1\n", "has a key that is a list or a map"),
])
def test_yaml_a_catalog_cannot_use_is_refused_in_words(tmp_path, yaml_text, words):
    assert any(words in problem.allowed for problem in refusal(tmp_path, yaml_text + TEXT).problems)
