"""At-risk orders: late-delivery labels as known at a date, features, model, reasons."""
