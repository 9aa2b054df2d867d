import pytest

from semver import Version, VersionError


def test_parse_and_str_round_trip():
    for text in ("1.2.3", "0.0.1", "10.20.30", "1.0.0-alpha.1", "1.0.0-rc.1+build.5", "2.0.0+sha.abc"):
        assert str(Version.parse(text)) == text


def test_parse_fields():
    version = Version.parse("1.4.2-beta.3+exp.sha")
    assert (version.major, version.minor, version.patch) == (1, 4, 2)
    assert version.prerelease == ("beta", "3")
    assert version.build == ("exp", "sha")


def test_not_a_version():
    for text in ("1.2", "1.2.3.4", "v1.2.3", "1.2.x", ""):
        with pytest.raises(VersionError, match="not a semantic version"):
            Version.parse(text)


def test_release_precedence():
    assert Version.parse("1.2.3") < Version.parse("1.2.10") < Version.parse("1.10.0") < Version.parse("2.0.0")


def test_prerelease_sorts_before_its_release():
    assert Version.parse("1.0.0-alpha") < Version.parse("1.0.0")


def test_prerelease_precedence_from_the_spec():
    chain = ["1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-rc.1"]
    versions = [Version.parse(text) for text in chain]
    assert sorted(reversed(versions)) == versions


def test_build_metadata_does_not_count():
    assert Version.parse("1.0.0+a") == Version.parse("1.0.0+b")


def test_bump_major_and_minor():
    assert str(Version.parse("1.4.2").bump_major()) == "2.0.0"
    assert str(Version.parse("1.4.2").bump_minor()) == "1.5.0"


def test_bump_patch_of_a_release():
    assert str(Version.parse("1.4.2").bump_patch()) == "1.4.3"
