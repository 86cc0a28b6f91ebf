








endpoint	/checkout	/cart