"""Token ids that the data pipelines and the models must agree on.

A leaf module: `cnnrnn.data` and `cnnrnn.models` both read it, and neither
imports the other.
"""

# The caption vocabulary starts with these: padding, unknown word, start, end.
SPECIAL_TOKENS = ("", "[UNK]", "<start>", "<end>")
# The id of a character outside a char-generator's vocabulary.
OOV_ID = 0
