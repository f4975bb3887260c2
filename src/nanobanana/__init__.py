"""nanobanana: a typed, safe SDK for Google's Nano Banana Pro image model."""
