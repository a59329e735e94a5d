"""The tests, folder by folder as the code: tests/components/<stage>/ and tests/pipeline/<part>/."""
