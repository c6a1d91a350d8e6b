import pytest

from cnnrnn.demos.sentiment_rnn import write_sentiment_demo


@pytest.fixture(scope="session")
def reviews(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reviews")
    return str(write_sentiment_demo(folder / "d", num_reviews=80) / "reviews.csv")
