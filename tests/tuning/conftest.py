import pytest

from cnnrnn.data import demo


@pytest.fixture(scope="session")
def reviews(tmp_path_factory):
    folder = tmp_path_factory.mktemp("reviews")
    return str(demo.write_sentiment_demo(folder / "d", num_reviews=80) / "reviews.csv")
