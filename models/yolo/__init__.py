"""yolo-pico person detector (Yolo-Fastest style, 96x96x3, heads 3x3 and 6x6) from a Darknet cfg."""
