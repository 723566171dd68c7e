"""An executable essay: 'What Can't Deep Learning Do?' (Ramsundar, 2017), tested."""
