"""The app's rules, apart from HTTP: notifications, the feed ranker, posts and reports
(docs/APP.md). Functions take a SQLAlchemy session; the routers in service/api/ call them."""
